# session-state, the planting session's first cell: state in every form a session keeps — a
# variable, a file in its home, files in the shared writable places, a background process in a
# session of its own, a thread that writes after a delay, an environment variable. The next cell
# shows it all there (a session keeps state); the probe session after it must find none of it.
import os, subprocess, threading, time
planted = "here"
open("planted-home.txt", "w").write("x")
for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
    try:
        open(f"{d}/.planted-session-{os.getpid()}", "w").write("x")
    except OSError:
        pass
bg = subprocess.Popen(["sleep", "300"], start_new_session=True)
def late():
    time.sleep(1.0)
    for d in ("/tmp", "/var/tmp"):
        try:
            open(f"{d}/late-session-{os.getpid()}", "w").write("x")
        except OSError:
            pass
threading.Thread(target=late, daemon=True).start()
os.environ["PLANTED"] = "1"
