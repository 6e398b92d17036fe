/* hello-world: the program of Slipway's hello-world image (/hello, static,
 * no libc in the image). It explains what Slipway just did to print it, and
 * shows two facts that prove it: its pid (1, in a pid namespace of its own)
 * and its host name (the container's). */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  char host[256] = "?";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '?';
  printf(
      "\n"
      "Hello from Slipway!\n"
      "This message shows that your installation appears to be working.\n"
      "\n"
      "To print it, Slipway took these steps:\n"
      " 1. The slipway CLI asked slipwayd, over its REST API, to create and start\n"
      "    a container of the \"hello-world\" image.\n"
      " 2. slipwayd found the image in its store (the package ships it, and\n"
      "    slipwayd imported it when it first started) and unpacked its layer\n"
      "    under an overlay root.\n"
      " 3. slipwayd created new pid, mount, uts, ipc, net and cgroup namespaces\n"
      "    and cgroups with limits, under seccomp and Docker's default\n"
      "    capabilities, watched by a slipway-monitor process.\n"
      " 4. It ran this program, /hello, as pid %d on host \"%s\".\n"
      " 5. slipwayd streamed its output back to the CLI, which wrote it to\n"
      "    your terminal.\n"
      "\n"
      "To try something more ambitious, run a shell in an image of a registry:\n"
      " $ slipway pull alpine\n"
      " $ slipway run --rm alpine sh -c 'cat /etc/os-release; ip addr'\n"
      "\n"
      "Or import a root filesystem you have as a tar file:\n"
      " $ slipway import rootfs.tar mybox && slipway run --rm mybox ls /\n"
      "\n"
      "Run the pipeline of a git working tree (its .slipway.yml):\n"
      " $ slipway pipeline exec\n"
      "\n"
      "See what slipwayd runs on: slipway info\n"
      "More: man slipway, /usr/share/doc/slipway/ (install.md, cli.md,\n"
      "pipelines.md).\n"
      "\n",
      (int)getpid(), host);
  return fflush(stdout) == 0 ? 0 : 1;
}
