// The web client's REST errors (chatactors/web/static/js/api.js), without a browser: run by
// `node --test tests/client/` (inside scripts/test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError } from "../../chatactors/web/static/js/api.js";

test("503 (nothing changed) and 504 (outcome unknown) are retried by themselves; 4xx are not", () => {
  const retried = (status) => new ApiError(status, "detail").transient;
  assert.equal(retried(503), true);
  assert.equal(retried(504), true); // safe: the retry carries the same client_message_id
  assert.equal(retried(0), true); // no answer at all
  assert.equal(retried(429), true);
  for (const status of [400, 403, 404, 413, 422]) assert.equal(retried(status), false, status);
});
