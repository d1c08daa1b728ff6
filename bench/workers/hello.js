// The hello worker every runtime runs: the smallest response.
export default {
  fetch() {
    return new Response('Hello World!');
  },
};
