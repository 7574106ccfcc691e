#!/usr/bin/env python3
"""A real WebSocket peer (the `websockets` package) for the HTTP tunnel test.

usage: ws_peer.py server PORT NAME   echo server for subprotocol "sip"; prints "ready";
                                     each reply is "NAME:" + the message
       ws_peer.py client URL MSG...  connects with subprotocol "sip", sends each
                                     MSG (text) and prints each reply on a line
"""
import asyncio
import sys

import websockets


async def serve(port, name):
    async def echo(ws):
        async for msg in ws:
            await ws.send(f"{name}:{msg}")

    async with websockets.serve(echo, "127.0.0.1", port, subprotocols=["sip"]):
        print("ready", flush=True)
        await asyncio.Future()


async def client(url, msgs):
    async with websockets.connect(url, subprotocols=["sip"], open_timeout=5) as ws:
        print(f"subprotocol {ws.subprotocol}", flush=True)
        for m in msgs:
            await ws.send(m)
            print(await asyncio.wait_for(ws.recv(), 5), flush=True)


if sys.argv[1] == "server":
    asyncio.run(serve(int(sys.argv[2]), sys.argv[3]))
else:
    asyncio.run(client(sys.argv[2], sys.argv[3:]))
