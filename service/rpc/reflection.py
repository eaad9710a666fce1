"""gRPC server reflection, v1 and v1alpha, needing the API key unless public_reflection.

grpcio-reflection serves only ``grpc.reflection.v1alpha``. ``grpc.reflection.v1`` is the same
protocol under a new package name (the same messages, the same field numbers), so one servicer
serves both; v1's file descriptor is v1alpha's renamed, added to the pool so that v1 can
describe itself as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

from nightowl.service.errors import Unauthenticated
from nightowl.service.serving.auth import check_bearer
from nightowl.service.settings import Settings

V1ALPHA = reflection.SERVICE_NAME  # grpc.reflection.v1alpha.ServerReflection
V1 = "grpc.reflection.v1.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"


def handlers(settings: Settings, services: Iterable[str]) -> list[grpc.GenericRpcHandler]:
    """Both reflection services, listing ``services`` and themselves."""
    add_v1_descriptor(descriptor_pool.Default())
    servicer = reflection.aio.ReflectionServicer([*services, V1, V1ALPHA])

    async def info(requests: AsyncIterator[reflection_pb2.ServerReflectionRequest],
                   context: grpc.aio.ServicerContext
                   ) -> AsyncIterator[reflection_pb2.ServerReflectionResponse]:
        if not settings.public_reflection:
            try:
                check_bearer(dict(context.invocation_metadata() or ()).get("authorization"),
                             settings.api_keys)
            except Unauthenticated as error:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, error.detail)
        async for answer in servicer.ServerReflectionInfo(requests, context):
            yield answer

    method = grpc.stream_stream_rpc_method_handler(
        info, request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    return [grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": method})
            for name in (V1, V1ALPHA)]


def add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Put ``grpc/reflection/v1/reflection.proto`` in ``pool`` (once): v1alpha's, renamed."""
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", ".grpc.reflection.v1."
    proto.name, proto.package = V1_FILE, "grpc.reflection.v1"
    proto.ClearField("options")  # v1alpha's java/go package names
    for message in proto.message_type:
        for field in message.field:
            if field.type_name:  # a message field
                field.type_name = field.type_name.replace(old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool.Add(proto)
