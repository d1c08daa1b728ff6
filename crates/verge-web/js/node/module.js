// node:module — createRequire() (a `require` resolving from a given file of the project, as
// ES modules use it to load CommonJS), and the list of builtin modules.
(function (ops, internals) {
  const builtinModules = ops.nodeModuleNames();
  function createRequire(filename) {
    const from = filename instanceof URL ? filename.href : filename;
    if (typeof from !== 'string') throw internals.nodeError('ERR_INVALID_ARG_VALUE', 'filename', from, 'must be a file URL object, file URL string, or absolute path string');
    return ops.createRequire(from);
  }
  const isBuiltin = (name) => builtinModules.includes(String(name).replace(/^node:/, ''));
  function Module() {
    throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'module.Module');
  }
  Object.assign(Module, { createRequire, builtinModules, isBuiltin });
  internals['node:module'] = Object.assign(Module, {
    Module,
    register() {
      throw internals.nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'module.register');
    },
    syncBuiltinESMExports() {},
    findSourceMap: () => undefined,
  });
})
