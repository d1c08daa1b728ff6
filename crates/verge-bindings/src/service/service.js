// A service binding: the Fetcher of another worker of this server, whose methods other than
// fetch() are JS RPC to its WorkerEntrypoint (see rpc.js in verge-runtime for the other side).
(function (ops, internals) {
  internals.makeServiceBinding = (binding, fetcher) =>
    internals.rpcStub(fetcher, (method, args) => ops.serviceCall(binding, method, args));
})
