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
#   http_head    one split byte, then client bytes and node bytes (a few
#                exchanges written below: keep-alive, chunked both ways,
#                pipelining, 100-continue, WebSocket upgrade)
set -euo pipefail
cd "$(dirname "$0")"
src=../tests/fixtures/rfc4475
rm -rf seeds
mkdir -p seeds/sip_message seeds/sip_proxy seeds/sip_framing seeds/http_head
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
# http_head: the split byte puts the cut between the client's and the
# node's bytes (at = split * len / 256, rounded up to be safe).
http_seed() {
    local name=$1 client=$2 node=$3
    local c=${#client} t=$(( ${#client} + ${#node} ))
    local split=$(( (c * 256 + t - 1) / t ))
    [ "$split" -gt 255 ] && split=255
    { printf "\\$(printf '%03o' "$split")"; printf '%s' "$client" "$node"; } > "seeds/http_head/$name"
}
crlf() { printf '%b' "$1"; }
http_seed get "$(crlf 'GET /app;jsessionid=a.n1?appsession=1 HTTP/1.1\r\nHost: lb\r\nCookie: JSESSIONID=b.n1\r\n\r\n')" \
    "$(crlf 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello')"
http_seed chunked "$(crlf 'POST /up HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: 1\r\n\r\n')" \
    "$(crlf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;e=1\r\nwiki\r\n0\r\n\r\n')"
http_seed pipelined "$(crlf 'GET /1 HTTP/1.1\r\nHost: lb\r\n\r\nHEAD /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')" \
    "$(crlf 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n')"
http_seed continue "$(crlf 'PUT /f HTTP/1.1\r\nHost: lb\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata')" \
    "$(crlf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nConnection: close\r\n\r\nbye')"
http_seed upgrade "$(crlf 'GET /ws HTTP/1.1\r\nHost: lb\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n\x81\x80abcd')" \
    "$(crlf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x01')"
echo "seeds: $(find seeds -type f | wc -l) files"
