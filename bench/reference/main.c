/* Entry point of the C reference: reference <server|client> <workload> <socket path> key=value... */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  struct options o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(o.role, "server") == 0) return run_server(&o);
  if (strcmp(o.role, "client") == 0) return run_client(&o);
  fprintf(stderr, "reference: unknown role %s\n", o.role);
  return 2;
}
