unshare --user --map-root-user true 2>/dev/null && echo CREATED || echo refused
