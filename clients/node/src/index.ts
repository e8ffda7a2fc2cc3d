// @kessan/client: a Node client for the Kessan feed (kessan.v1) over gRPC.
export { KessanClient } from "./client.js";
export type {
  CallOptions, KessanClientOptions, ParameterInit, PublishOptions, RunScenarioOptions, SnapshotOptions,
  SubscribeOptions,
} from "./client.js";
export { Subscription } from "./subscription.js";
export type { Notice, ResumeOptions } from "./subscription.js";
export { Backoff } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { SequenceError, Tracker } from "./tracker.js";
export { isRetryable, toConnectError } from "./errors.js";
export { makeFilter } from "./filter.js";
export type { FilterInit, PolicyInit, StartInit, ViewInit } from "./filter.js";
export { parseServers } from "./servers.js";
export type { ConnectionOptions, FailoverListener, TlsOptions } from "./servers.js";
export { Code, ConnectError } from "@connectrpc/connect";
export * from "./proto.js";
// protobuf-es helpers for the messages above, so that one import serves.
export { clone, create, equals, fromJson, fromJsonString, isMessage, toJson, toJsonString } from "@bufbuild/protobuf";
export { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
