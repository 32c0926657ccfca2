import os, signal
for sig in (signal.SIGKILL, signal.SIGSTOP):
    try:
        os.kill(os.getppid(), sig)
        print("SIGNALLED")
    except PermissionError:
        print("denied")
