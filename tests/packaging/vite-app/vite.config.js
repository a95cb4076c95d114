// Two pages: the full package (index.html) and warren-mq/lite (lite.html).
export default {
  build: { rollupOptions: { input: { main: 'index.html', lite: 'lite.html' } } },
};
