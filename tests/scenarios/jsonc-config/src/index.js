import { describe } from './describe.js';
export default {
  fetch: (request, env) => Response.json(describe(env)),
};
