"""jls config for the container kernel_start benchmark (docs/performance.md).

python3 runs in a container of the test kernel image; the docker provider wins the name.
"""

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.DockerProvider.kernels = {
    "python3": {"image": "jls-test-kernel:base", "display_name": "Python 3 (container)"}
}
c.KernelFinder.provider_order = ["docker", "spec", "pyimport"]
