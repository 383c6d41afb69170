"""The Diatheke-compatible gRPC face of dialoghub (``dialoghub serve --grpc PORT``).

``diatheke.proto`` is the service definition, written from the SDK's public protocol;
``diatheke_pb2*.py`` are generated from it (``python -m grpc_tools.protoc -Isrc
--python_out=src --grpc_python_out=src src/dialoghub/voice/grpc/diatheke.proto``, grpcio-tools
1.85); :mod:`.service` implements it on a Hub. grpcio is imported only when this runs.
"""
