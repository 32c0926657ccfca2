# include find_writable_dirs.py
for d in sorted(found):
    try:
        with open(os.path.join(d, f".planted-{os.getpid()}"), "w") as f: f.write("planted")
        print("writable", d)
    except OSError:
        pass
