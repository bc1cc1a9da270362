const { test, expect } = require('./pw.js');

const admin = { authorization: 'Bearer ada:admin' };

test('health answers', async ({ request }) => {
  expect((await request.get('/healthz')).status()).toBe(200);
});

test('lists the todos', async ({ request }) => {
  const res = await request.get('/api/todos');
  expect(res.status(), `GET /api/todos returned ${res.status()}`).toBe(200);
  expect((await res.json()).todos).toHaveLength(2);
});

test('an admin completes a todo', async ({ request }) => {
  const res = await request.post('/api/todos/1/complete', { headers: admin });
  expect(res.status(), `POST /api/todos/1/complete returned ${res.status()}: ${await res.text()}`).toBe(200);
  expect((await res.json()).done).toBe(true);
});

test('summarises a todo', async ({ request }) => {
  const res = await request.get('/api/todos/2/summary');
  expect(res.status(), `GET /api/todos/2/summary returned ${res.status()}: ${await res.text()}`).toBe(200);
  expect(await res.json()).toEqual({ id: '2', words: 3 });
});

test('an admin deletes a todo', async ({ request }) => {
  const res = await request.delete('/api/todos/2', { headers: admin });
  expect(res.status(), `DELETE /api/todos/2 returned ${res.status()}: ${await res.text()}`).toBe(200);
});
