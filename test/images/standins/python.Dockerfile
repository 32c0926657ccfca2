# Stand-in for the official python:3.12-slim-bookworm, for the image tests only: no container
# registry is reachable from CI, so the tests build it from a debootstrapped Debian bookworm with
# Debian's CPython (3.11). Like the official image, python3 is in /usr/local/bin and pip may install
# into the system Python. numpy, pandas and matplotlib come from Debian here, because PyPI is not reachable
# either: the team example's `pip install` then finds them already satisfied.
FROM agent-executor-standin/debian:bookworm
# CPython, pip, and (see above) numpy, pandas and matplotlib.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-numpy python3-pandas python3-matplotlib \
    && rm -rf /var/lib/apt/lists/*
# The official image's layout: no EXTERNALLY-MANAGED marker, interpreters in /usr/local/bin.
RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python3 \
    && ln -s /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
