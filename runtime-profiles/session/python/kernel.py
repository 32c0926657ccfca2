# The python session kernel (docs/session-kernel.md): runs cells from the executor in one
# persistent __main__ namespace, displays the last expression's value (and IPython-style rich
# representations, display(), matplotlib figures), and reports each cell's end on fd 3 after a sync
# marker in stdout and stderr. It runs as the sandbox user beside the snippet and enforces nothing:
# budgets are the executor's, from outside.
import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import sys
import traceback
import types

KERNEL = __file__
# This module itself, for the matplotlib backend: __main__ becomes the cells' namespace.
SELF = sys.modules[__name__]
FD = int(os.environ.pop("EXECUTOR_SESSION_FD"))
# (method, mime) in IPython's order; the result of each is bytes (images) or text.
REPRS = [
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_json_", "application/json"),
    ("_repr_latex_", "text/latex"),
]
BINARY = {"image/png", "image/jpeg"}


class Cell:
    n = 0
    token = ""
    sync = 0
    displays = 0
    running = False


def send(line):
    data = (line + "\n").encode()
    while data:
        data = data[os.write(FD, data):]


def marker(*fds):
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    Cell.sync += 1
    mark = ("\x1f%s:%d\x1f" % (Cell.token, Cell.sync)).encode()
    for fd in fds:
        try:
            os.write(fd, mark)
        except OSError:
            pass
    return Cell.sync


def encode(mime, value):
    if mime in BINARY:
        raw = value if isinstance(value, bytes) else base64.b64decode(value)
    elif mime == "application/json" and not isinstance(value, (str, bytes)):
        raw = json.dumps(value).encode()
    else:
        raw = value if isinstance(value, bytes) else str(value).encode()
    return base64.b64encode(raw).decode()


def bundle(obj):
    data = {}
    rich = getattr(obj, "_repr_mimebundle_", None)
    if callable(rich) and not isinstance(obj, type):
        try:
            got = rich()
            if isinstance(got, tuple):
                got = got[0]
            if isinstance(got, dict):
                data.update({k: v for k, v in got.items() if v is not None})
        except Exception:
            pass
    for method, mime in REPRS:
        f = getattr(obj, method, None)
        if mime in data or not callable(f) or isinstance(obj, type):
            continue
        try:
            value = f()
        except Exception:
            continue
        if isinstance(value, tuple):
            value = value[0]
        if value is not None:
            data[mime] = value
    data.setdefault("text/plain", repr(obj))
    return data


def display(*objs):
    """Show each object as a display entry of the running cell (as IPython's display())."""
    for obj in objs:
        show(bundle(obj))


def show(data):
    if not Cell.running:
        return
    Cell.displays += 1
    parts = []
    for mime, value in data.items():
        try:
            parts.append("%s %s" % (mime, encode(mime, value)))
        except Exception:
            pass
    # One line per object, all its representations on it (docs/session-kernel.md).
    send("display %d %d %d %s" % (Cell.n, Cell.displays, marker(1), " ".join(parts)))


def show_figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in list(plt.get_fignums()):
        fig = plt.figure(num)
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png")
            show({"image/png": buf.getvalue(), "text/plain": repr(fig)})
        finally:
            plt.close(fig)


def on_sigint(signum, frame):
    # Only a running cell is interrupted; between cells the signal is ignored.
    if Cell.running:
        raise KeyboardInterrupt


def print_error(e):
    # The user's frames only: the kernel's (the cell runner, the SIGINT handler) are taken out.
    root = te = traceback.TracebackException(type(e), e, e.__traceback__)
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != KERNEL])
        te = te.__cause__ or te.__context__
    sys.stderr.write("".join(root.format()))


def run(ns, code, name):
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    tree = ast.parse(code, filename=name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), ns)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), name, "eval"), ns)
        if value is not None:
            ns["_"] = value
            display(value)
    show_figures()


class Channel:
    def __init__(self, fd):
        self.fd, self.buf = fd, b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.read()
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def exactly(self, n):
        while len(self.buf) < n:
            chunk = self.read()
            if not chunk:
                return None
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read(self):
        while True:
            try:
                return os.read(self.fd, 1 << 16)
            except InterruptedError:
                continue


def main():
    main_module = types.ModuleType("__main__")
    main_module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main_module
    ns = main_module.__dict__
    builtins.display = display
    sys.argv[0] = os.path.join(os.getcwd(), "main.py")
    sys.path[0] = os.getcwd()
    # The display backend the runtime profile names (docs/display.md) shows figures through this
    # module when plt.show() is called in a cell.
    sys.modules["executor_kernel"] = SELF
    signal.signal(signal.SIGINT, on_sigint)
    # The cells' own subprocesses do not get the channel.
    os.set_inheritable(FD, False)
    chan = Channel(FD)
    send("ready")
    while True:
        header = chan.line()
        if header is None:
            return 0
        words = header.split(" ")
        if len(words) != 5 or words[0] != "cell":
            continue
        n, token, code_len, stdin_len = int(words[1]), words[2], int(words[3]), int(words[4])
        code, stdin = chan.exactly(code_len), chan.exactly(stdin_len)
        if code is None or stdin is None:
            return 0
        Cell.n, Cell.token, Cell.sync, Cell.displays = n, token, 0, 0
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        status = "ok"
        try:
            Cell.running = True
            try:
                run(ns, code.decode("utf-8", "replace"), "<cell %d>" % n)
            finally:
                Cell.running = False
        except KeyboardInterrupt as e:
            status = "interrupted"
            print_error(e)
        except SystemExit:
            raise
        except BaseException as e:
            status = "error"
            print_error(e)
        try:
            send("done %d %s %d" % (n, status, marker(1, 2)))
        except KeyboardInterrupt:
            send("done %d %s %d" % (n, status, marker(1, 2)))


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as e:
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        raise
    sys.exit(code)
