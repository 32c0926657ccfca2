x = b"x" * (2 * 1024 ** 3)
print("allocated", len(x))
