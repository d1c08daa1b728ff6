export const describe = (env) => ({ list: env.LIST, flag: env.FLAG, keys: Object.keys(env).sort() });
