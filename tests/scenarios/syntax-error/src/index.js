export default {
  async fetch(request) {
    return new Response("x", { status: 200 };
  },
};
