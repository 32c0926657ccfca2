for r in 1 2 3; do for i in {1..10}; do sleep 0.2 & done; sleep 0.1; done; wait; echo done
