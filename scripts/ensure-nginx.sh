#!/usr/bin/env bash
# nginx from Debian's packages, for the test that runs Kong's per-client-IP limit files in a real nginx.
# Idempotent: does nothing when nginx is there. Needs root (CI and the dev machines are). The package's
# service is not started (policy-rc.d): the test runs its own nginx on a loopback port.
set -euo pipefail
for p in /usr/sbin/nginx /usr/local/sbin/nginx /usr/bin/nginx; do
  if [ -x "$p" ]; then exit 0; fi
done
if [ "$(id -u)" != "0" ]; then
  echo "ensure-nginx: nginx is missing; run as root: apt-get install -y nginx-light" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
if [ "$created" = 1 ]; then rm -f "$policy"; fi
/usr/sbin/nginx -v
