import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
nr = 248 if os.uname().machine == "x86_64" else 217
k = libc.syscall(nr, b"user", b"agent-executor-selftest", b"secret", 6, -4)
print("added" if k > 0 else "refused " + str(ctypes.get_errno()))
