(trap "" HUP TERM; while :; do date >> "$HOME/../late-$$" 2>/dev/null; date >> /var/tmp/late-$$; date >> /tmp/late-$$; sleep 0.01; done) &
disown
echo left running
