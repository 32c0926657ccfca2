import ctypes, os, threading, time
if os.fork() == 0:
    os.setsid()
    def linger():
        time.sleep(2)
        for d in ("/tmp", "/var/tmp", "/dev/shm"):
            open(f"{d}/.planted-thread", "w").write("still here")
        time.sleep(30)
    threading.Thread(target=linger).start()
    ctypes.CDLL(None).syscall(60 if os.uname().machine == "x86_64" else 93, 0)
time.sleep(0.3)
print("hidden")
