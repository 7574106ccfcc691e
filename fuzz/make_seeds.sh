#!/usr/bin/env bash
# Rebuild fuzz/seeds/ (the committed seed corpus) from the RFC 4475 torture
# fixtures in tests/fixtures/rfc4475, in the input format of each target:
#   sip_message  the message as is
#   sip_proxy    one flags byte, then the message (see the target): 0x00 from
#                a client on the external leg, 0x03 from the node on the
#                internal leg; the valid responses also with our two Vias on
#                top, as a node would send them back
#   sip_framing  two bytes of size limit (0xffff + 16), then the message,
#                alone and followed by a second one
set -euo pipefail
cd "$(dirname "$0")"
src=../tests/fixtures/rfc4475
rm -rf seeds
mkdir -p seeds/sip_message seeds/sip_proxy seeds/sip_framing
ours=$'Via: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bK00000000000000aazsd_0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK00000000000000aa_0\r\n'
for f in "$src"/*.dat; do
    n=$(basename "$f" .dat)
    cp "$f" "seeds/sip_message/$n"
    { printf '\x00'; cat "$f"; } > "seeds/sip_proxy/client-$n"
    { printf '\x03'; cat "$f"; } > "seeds/sip_proxy/node-$n"
    { printf '\xff\xff'; cat "$f"; } > "seeds/sip_framing/$n"
    { printf '\xff\xff'; cat "$f" "$src/lwsdisp.dat"; } > "seeds/sip_framing/$n+lwsdisp"
done
for n in unreason noreason bcast; do
    f="$src/$n.dat"
    { printf '\x03'; head -n 1 "$f"; printf '%s' "$ours"; tail -n +2 "$f"; } > "seeds/sip_proxy/ours-$n"
done
echo "seeds: $(find seeds -type f | wc -l) files"
