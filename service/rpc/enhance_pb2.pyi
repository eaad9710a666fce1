from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_PNG: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_JPEG: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_RGB8: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_GREY8: _ClassVar[OutputFormat]

class GainSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GAIN_SOURCE_UNSPECIFIED: _ClassVar[GainSource]
    GAIN_SOURCE_REQUEST: _ClassVar[GainSource]
    GAIN_SOURCE_SETTING: _ClassVar[GainSource]
    GAIN_SOURCE_ESTIMATED: _ClassVar[GainSource]
    GAIN_SOURCE_UNUSED: _ClassVar[GainSource]
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_PNG: OutputFormat
OUTPUT_FORMAT_JPEG: OutputFormat
OUTPUT_FORMAT_RGB8: OutputFormat
OUTPUT_FORMAT_GREY8: OutputFormat
GAIN_SOURCE_UNSPECIFIED: GainSource
GAIN_SOURCE_REQUEST: GainSource
GAIN_SOURCE_SETTING: GainSource
GAIN_SOURCE_ESTIMATED: GainSource
GAIN_SOURCE_UNUSED: GainSource

class Image(_message.Message):
    __slots__ = ("encoded", "rgb8", "grey8", "width", "height")
    ENCODED_FIELD_NUMBER: _ClassVar[int]
    RGB8_FIELD_NUMBER: _ClassVar[int]
    GREY8_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    encoded: bytes
    rgb8: bytes
    grey8: bytes
    width: int
    height: int
    def __init__(self, encoded: _Optional[bytes] = ..., rgb8: _Optional[bytes] = ..., grey8: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class EnhanceRequest(_message.Message):
    __slots__ = ("frames", "camera_id", "sequence", "format", "gain")
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    GAIN_FIELD_NUMBER: _ClassVar[int]
    frames: _containers.RepeatedCompositeFieldContainer[Image]
    camera_id: str
    sequence: int
    format: OutputFormat
    gain: float
    def __init__(self, frames: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., camera_id: _Optional[str] = ..., sequence: _Optional[int] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., gain: _Optional[float] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("decode_s", "align_s", "queue_s", "engine_s", "encode_s", "total_s", "engine_call_s")
    DECODE_S_FIELD_NUMBER: _ClassVar[int]
    ALIGN_S_FIELD_NUMBER: _ClassVar[int]
    QUEUE_S_FIELD_NUMBER: _ClassVar[int]
    ENGINE_S_FIELD_NUMBER: _ClassVar[int]
    ENCODE_S_FIELD_NUMBER: _ClassVar[int]
    TOTAL_S_FIELD_NUMBER: _ClassVar[int]
    ENGINE_CALL_S_FIELD_NUMBER: _ClassVar[int]
    decode_s: float
    align_s: float
    queue_s: float
    engine_s: float
    encode_s: float
    total_s: float
    engine_call_s: float
    def __init__(self, decode_s: _Optional[float] = ..., align_s: _Optional[float] = ..., queue_s: _Optional[float] = ..., engine_s: _Optional[float] = ..., encode_s: _Optional[float] = ..., total_s: _Optional[float] = ..., engine_call_s: _Optional[float] = ...) -> None: ...

class EnhanceResponse(_message.Message):
    __slots__ = ("image", "frames_used", "timings", "replica", "sequence", "reason", "gain_used", "gain_source")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_USED_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    GAIN_USED_FIELD_NUMBER: _ClassVar[int]
    GAIN_SOURCE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    frames_used: int
    timings: Timings
    replica: str
    sequence: int
    reason: str
    gain_used: float
    gain_source: GainSource
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., frames_used: _Optional[int] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., replica: _Optional[str] = ..., sequence: _Optional[int] = ..., reason: _Optional[str] = ..., gain_used: _Optional[float] = ..., gain_source: _Optional[_Union[GainSource, str]] = ...) -> None: ...

class StreamFrame(_message.Message):
    __slots__ = ("camera_id", "sequence", "capture_time_us", "image", "format", "gain")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_US_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    GAIN_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    sequence: int
    capture_time_us: int
    image: Image
    format: OutputFormat
    gain: float
    def __init__(self, camera_id: _Optional[str] = ..., sequence: _Optional[int] = ..., capture_time_us: _Optional[int] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., gain: _Optional[float] = ...) -> None: ...

class StreamResult(_message.Message):
    __slots__ = ("camera_id", "sequence", "capture_time_us", "status", "reason", "image", "frames_used", "timings", "replica", "gain_used", "gain_source")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[StreamResult.Status]
        STATUS_OK: _ClassVar[StreamResult.Status]
        STATUS_WARMING_UP: _ClassVar[StreamResult.Status]
        STATUS_SKIPPED: _ClassVar[StreamResult.Status]
        STATUS_ERROR: _ClassVar[StreamResult.Status]
    STATUS_UNSPECIFIED: StreamResult.Status
    STATUS_OK: StreamResult.Status
    STATUS_WARMING_UP: StreamResult.Status
    STATUS_SKIPPED: StreamResult.Status
    STATUS_ERROR: StreamResult.Status
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_US_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_USED_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    GAIN_USED_FIELD_NUMBER: _ClassVar[int]
    GAIN_SOURCE_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    sequence: int
    capture_time_us: int
    status: StreamResult.Status
    reason: str
    image: Image
    frames_used: int
    timings: Timings
    replica: str
    gain_used: float
    gain_source: GainSource
    def __init__(self, camera_id: _Optional[str] = ..., sequence: _Optional[int] = ..., capture_time_us: _Optional[int] = ..., status: _Optional[_Union[StreamResult.Status, str]] = ..., reason: _Optional[str] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., frames_used: _Optional[int] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., replica: _Optional[str] = ..., gain_used: _Optional[float] = ..., gain_source: _Optional[_Union[GainSource, str]] = ...) -> None: ...
