#!/bin/bash
# certbot deploy hook: after each new or renewed certificate, give ejabberd its copy and make
# ejabberd and nginx use it. Install, as root:
#   install -D -m 755 deploy/certbot-deploy-hook.sh /etc/letsencrypt/renewal-hooks/deploy/botschaft.sh
# certbot runs the scripts in that folder after every renewal, with RENEWED_LINEAGE set to the
# certificate's folder (/etc/letsencrypt/live/DOMAIN). For the first certificate run it once:
#   RENEWED_LINEAGE=/etc/letsencrypt/live/chat.example.com /etc/letsencrypt/renewal-hooks/deploy/botschaft.sh
# ejabberd reads the key and the chain in one PEM file, /etc/ejabberd/DOMAIN.pem (TLS_CERTFILE
# in botschaft-site.yml), readable by root and the ejabberd group only. nginx reads certbot's
# files directly (deploy/nginx/botschaft.conf).
set -euo pipefail

lineage=${RENEWED_LINEAGE:?is set by certbot: the certificate folder, /etc/letsencrypt/live/DOMAIN}
domain=$(basename "$lineage")
target=/etc/ejabberd/$domain.pem

# Written beside the target and renamed over it, so ejabberd never reads half a file.
partial=$(mktemp "/etc/ejabberd/.$domain.pem.XXXXXX")
trap 'rm -f "$partial"' EXIT
cat "$lineage/privkey.pem" "$lineage/fullchain.pem" > "$partial"
chown root:ejabberd "$partial"
chmod 640 "$partial"
mv "$partial" "$target"
trap - EXIT
echo "ejabberd's certificate for $domain renewed: $target"

# A running server takes the new certificate now; a stopped one reads it when it starts.
if ejabberdctl status >/dev/null 2>&1; then
    ejabberdctl reload_config
fi
if systemctl is-active --quiet nginx; then
    systemctl reload nginx
fi
