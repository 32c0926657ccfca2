# include build_tree.py
home = os.getcwd()
build(home, "chain", 10000, False)
build(home, "long", 40, True)
build("/tmp", f"planted-deep-{os.getpid()}", 3000, False)
print("built")
