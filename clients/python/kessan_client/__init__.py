"""kessan_client: a small Python client for the Kessan feed (kessan.v1).

    from kessan_client import Client
    with Client("127.0.0.1:50051") as client:
        for event in client.subscribe(issuers=["IIJ"], concepts=["revenue"]):
            print(event)

Pass reconnect=True to subscribe() for a subscription that resumes by
itself after a lost connection (kessan_client.resume).

Errors from the server surface as grpc.RpcError (see kessan_client.client).
The generated message modules are re-exported as types_pb2, model_pb2,
feed_pb2 and feed_pb2_grpc.
"""

from kessan_client.client import (Client, Subscription, feed_pb2,
                                  feed_pb2_grpc, make_filter, model_pb2,
                                  types_pb2)
from kessan_client.resume import (Backoff, Notice, ResumingSubscription,
                                  SequenceError)

__all__ = ["Client", "Subscription", "ResumingSubscription", "Notice",
           "Backoff", "SequenceError", "make_filter", "types_pb2",
           "model_pb2", "feed_pb2", "feed_pb2_grpc"]
