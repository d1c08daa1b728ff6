// Makes `count` subrequests one after another (each after an await, so the count must follow
// the request across turns), then reports how far it got.
export default {
  async fetch(request, env) {
    const count = Number(new URL(request.url).searchParams.get('count'));
    let made = 0;
    try {
      for (; made < count; made++) await (await fetch(`${env.ORIGIN}/item/${made}`)).text();
      return Response.json({ made });
    } catch (error) {
      return Response.json({ made, name: error.name, message: error.message }, { status: 429 });
    }
  },
};
