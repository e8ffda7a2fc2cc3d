// The kessan.v1 messages, enums and service descriptors, generated from
// proto/kessan/v1 by protoc-gen-es (src/gen/, not committed). Nothing here
// depends on Node: a browser (connect-web) imports "@kessan/client/proto".
export * from "./gen/kessan/v1/types_pb.js";
export * from "./gen/kessan/v1/model_pb.js";
export * from "./gen/kessan/v1/feed_pb.js";
export * from "./gen/kessan/v1/scenario_pb.js";
export * from "./gen/kessan/v1/plugin_pb.js";
