export { type AvroType, avro } from './avro.js';
export { bytes } from './bytes.js';
export type { Codec } from './codec.js';
export { json } from './json.js';
export { type ProtobufType, protobuf } from './protobuf.js';
export { string } from './string.js';
