(kill -STOP $BASHPID; sleep 3600) &
kill -STOP $$
echo never
