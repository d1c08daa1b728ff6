// The `cloudflare:workers` module: the base classes of Workers' entry points — DurableObject,
// WorkerEntrypoint, RpcTarget — and `env`, the running worker's bindings, importable from any
// module. Its exports object sits on `internals` under the module's name (see builtins.rs).
(function (ops, internals) {
  class DurableObject {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }
  class WorkerEntrypoint {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }
  class WorkflowEntrypoint {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }
  class RpcTarget {}
  internals.isRpcTarget = (value) => value instanceof RpcTarget;
  internals.WorkerEntrypoint = WorkerEntrypoint;
  internals.DurableObject = DurableObject;
  internals['cloudflare:workers'] = Object.freeze({
    DurableObject, WorkerEntrypoint, WorkflowEntrypoint, RpcTarget,
    // Set before the entry module is evaluated (entry::set_env).
    env: internals.env,
  });
})
