"""Draw a chart in a session on the executors and save it: python examples/chart.py [out.png]

Connects as the executors do (REDIS_URL_FILE, REDIS_URL, EXECUTOR_STREAM...). Needs matplotlib in
the executors' python (the team example image has it).
"""

import sys

from agent_executor import Client

out = sys.argv[1] if len(sys.argv) > 1 else "chart.png"
with Client() as client, client.session(runtime="python") as session:
    session.run("import matplotlib.pyplot as plt\nsquares = [n * n for n in range(10)]", timeout=60).raise_for_status()
    result = session.run("plt.plot(squares)\nplt.title('squares')\nplt.show()\nprint(len(squares), 'points')", timeout=60)
    result.raise_for_status()
    print(result.stdout, end="")
    chart = next(d for d in result.displays if d.image is not None)
    print("saved", chart.save(out))
