"""An application written for the Diatheke SDK's protocol, run as its own process by
tests/voice/test_grpc.py: it generates its client from dialoghub's .proto (argv[1] is the
folder of the generated modules), drives the server at argv[2], and prints what it saw as
JSON. Audio files (16 kHz 16-bit mono PCM) are in argv[3]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import grpc

sys.path.insert(0, sys.argv[1])
import diatheke_pb2 as pb
import diatheke_pb2_grpc as pb_grpc

audio = Path(sys.argv[3])
seen: dict[str, object] = {}
with grpc.insecure_channel(sys.argv[2]) as channel:
    client = pb_grpc.DiathekeStub(channel)
    seen["version"] = client.Version(pb.Empty()).diatheke
    seen["models"] = sorted((m.id, m.asr_sample_rate) for m in client.ListModels(pb.Empty()).models)

    out = client.CreateSession(pb.SessionStart(model_id="weather"))
    seen["first"] = [a.WhichOneof("action") for a in out.action_list]
    token = out.token

    def chunks(name: str, size: int = 3200):
        yield pb.ASRInput(token=token)
        data = (audio / name).read_bytes()
        for i in range(0, len(data), size):
            yield pb.ASRInput(audio=data[i : i + size])

    result = client.StreamASR(chunks("paris.raw"))
    seen["asr"] = [result.text, result.timedout, 0 < result.confidence <= 1]
    out = client.UpdateSession(pb.SessionInput(token=token, asr=result))
    cmd = out.action_list[0].command
    seen["command"] = [cmd.id, dict(cmd.input_parameters)]
    stale = token
    token = out.token
    out = client.UpdateSession(
        pb.SessionInput(
            token=token,
            cmd=pb.CommandResult(
                id=cmd.id, out_parameters={"forecast": "sunny", "temperature": "21"}
            ),
        )
    )
    seen["after_command"] = [(a.WhichOneof("action"), a.reply.text) for a in out.action_list]
    token = out.token

    try:  # an old token: the session moved on since
        client.UpdateSession(pb.SessionInput(token=stale, text=pb.TextInput(text="hello")))
        seen["stale"] = "accepted"
    except grpc.RpcError as exc:
        seen["stale"] = exc.code().name
    forged = pb.TokenData(data=bytes(24), id=token.id)
    try:
        client.UpdateSession(pb.SessionInput(token=forged, text=pb.TextInput(text="hello")))
        seen["forged"] = "accepted"
    except grpc.RpcError as exc:
        seen["forged"] = exc.code().name

    silence = client.StreamASR(
        iter([pb.ASRInput(token=token), *(pb.ASRInput(audio=bytes(32000)) for _ in range(7))])
    )
    seen["silence"] = [silence.text, silence.timedout]

    reply = out.action_list[0].reply
    full = b"".join(c.audio for c in client.StreamTTS(reply))
    seen["tts_bytes"] = len(full)
    call = client.StreamTTS(pb.ReplyAction(text=" ".join([reply.text] * 20)))
    got = 0
    for chunk in call:
        got += len(chunk.audio)
        call.cancel()  # barge-in: the user speaks
        break
    seen["tts_cancelled_after"] = got

    def dictation():
        yield pb.TranscribeInput(
            action=pb.TranscribeAction(id="notes", diatheke_model_id="weather")
        )
        data = (audio / "dictation.raw").read_bytes()
        for i in range(0, len(data), 3200):
            yield pb.TranscribeInput(audio=data[i : i + 3200])

    results = list(client.Transcribe(dictation()))
    seen["transcribe"] = [[r.text, r.is_partial] for r in results]

    out = client.UpdateSession(pb.SessionInput(token=token, text=pb.TextInput(text="goodbye")))
    seen["end"] = [a.WhichOneof("action") for a in out.action_list]
    client.DeleteSession(out.token)
    try:
        client.UpdateSession(pb.SessionInput(token=out.token, text=pb.TextInput(text="hi")))
    except grpc.RpcError as exc:
        seen["deleted"] = exc.code().name
print(json.dumps(seen))
