// The "request received" page: asks GET /submit/status/<id> until the case exists, then shows its
// reference. Optional (the page works without it) and writes text only, never HTML.
const panel = document.getElementById('submit-status');
const intakeId = panel?.dataset.intakeId;

function show(text, reference) {
  const p = document.createElement('p');
  p.append(text);
  if (reference) {
    const strong = document.createElement('strong');
    strong.className = 'submit-id';
    strong.textContent = reference;
    p.append(strong, '. Quote it if you contact the desk.');
  }
  panel.replaceChildren(p);
}

async function poll(delay, deadline) {
  if (Date.now() > deadline) return;  // after ten minutes, "Check again" is the way
  try {
    const response = await fetch(`/submit/status/${encodeURIComponent(intakeId)}`,
      { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (response.ok) {
      const state = await response.json();
      if (state.status === 'processed' && state.case) {
        show('Your case reference is ', state.case);
        return;
      }
      if (state.status === 'failed') {
        show('There was a problem logging this request. Please send it again, or contact the desk directly.');
        return;
      }
    } else if (response.status === 404) {
      return;
    }
  } catch {
    // A network hiccup: keep asking, more slowly.
  }
  setTimeout(() => poll(Math.min(delay * 2, 10000), deadline), delay);
}

if (panel && intakeId && panel.dataset.status === 'queued') {
  setTimeout(() => poll(1000, Date.now() + 10 * 60 * 1000), 500);
}
