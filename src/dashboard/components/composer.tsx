import { useState } from 'preact/hooks';
import { messageOf, useSession } from './context.js';

/** The demo's race: a burst that lands while the first message's order is being written. */
const EXAMPLE_BURST = ['I want 2 pizzas.', 'Add a cola.', 'Please add a salad.'];

/** A short random id: `m4k2x9q` (a message), `web-8f3k2a` (a conversation). */
const newId = (prefix: string): string =>
  `${prefix}${Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0')}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends messages as the customer (each line its own message, `gapMs` apart, when sending a
 * burst), or, while the conversation is taken over, a person's reply.
 */
export function Composer({
  conversationId,
  takenOver,
  onCreated,
}: {
  conversationId: string | null;
  takenOver: boolean;
  onCreated: (id: string) => void;
}) {
  const { api, demo, report } = useSession();
  const [newConversation, setNewConversation] = useState(() => newId('web-'));
  const [text, setText] = useState('');
  const [burst, setBurst] = useState(false);
  const [gapMs, setGapMs] = useState(1000);
  const [as, setAs] = useState<'customer' | 'operator'>('customer');
  const [progress, setProgress] = useState<string | null>(null);
  const sender = takenOver ? as : 'customer';

  const send = async (event: Event) => {
    event.preventDefault();
    const id = (conversationId ?? newConversation).trim();
    if (id === '') return report('Give the conversation an id.');
    const lines =
      burst && sender === 'customer'
        ? text
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean)
        : [text.trim()].filter(Boolean);
    if (lines.length === 0) return;
    try {
      for (const [i, line] of lines.entries()) {
        if (i > 0) await sleep(gapMs);
        setProgress(lines.length > 1 ? `Sending ${i + 1} of ${lines.length}…` : 'Sending…');
        if (sender === 'operator') await api.operatorMessage(id, line);
        else await api.send(id, newId('m'), line);
        if (i === 0) onCreated(id);
      }
      setText('');
      setProgress(lines.length > 1 ? `Sent ${lines.length} messages.` : 'Sent.');
    } catch (error) {
      setProgress(null);
      report(`Not sent: ${messageOf(error)}`);
    }
  };

  return (
    <form class="composer" onSubmit={(e) => void send(e)} aria-label="Composer">
      {conversationId === null && (
        <label class="field">
          Conversation id
          <input
            value={newConversation}
            maxLength={200}
            onInput={(e) => setNewConversation(e.currentTarget.value)}
            required
          />
        </label>
      )}
      {takenOver && (
        <fieldset class="inline">
          <legend>Send as</legend>
          <label>
            <input type="radio" name="as" checked={as === 'customer'} onChange={() => setAs('customer')} />{' '}
            the customer
          </label>
          <label>
            <input type="radio" name="as" checked={as === 'operator'} onChange={() => setAs('operator')} />{' '}
            the operator (a person&apos;s reply)
          </label>
        </fieldset>
      )}
      <label class="field" for="composer-text">
        {sender === 'operator'
          ? 'Reply as the operator'
          : burst
            ? 'Messages, one per line'
            : 'Message as the customer'}
      </label>
      <textarea
        id="composer-text"
        rows={burst ? 4 : 2}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            e.currentTarget.form?.requestSubmit();
          }
        }}
        aria-describedby="composer-help"
      />
      <p id="composer-help" class="help">
        Ctrl+Enter sends.{' '}
        {sender === 'customer' &&
          'A burst sends each line as a separate message, the chosen gap apart: the bot branches.'}
      </p>
      {sender === 'customer' && (
        <div class="burst">
          <label>
            <input type="checkbox" checked={burst} onChange={(e) => setBurst(e.currentTarget.checked)} />{' '}
            Burst
          </label>
          <label>
            Gap (ms){' '}
            <input
              type="number"
              min={0}
              max={60000}
              step={100}
              value={gapMs}
              disabled={!burst}
              onInput={(e) => setGapMs(Math.max(0, Math.min(60_000, Number(e.currentTarget.value) || 0)))}
            />
          </label>
          {demo && (
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setBurst(true);
                // The demo's first answer asks for create_order after about 0.8 s, which runs for
                // 0.3 s: a message 0.9 s later lands while it runs, and is grafted.
                setGapMs(900);
                setText(EXAMPLE_BURST.join('\n'));
              }}
            >
              Example race
            </button>
          )}
        </div>
      )}
      <div class="send">
        <button type="submit">{sender === 'operator' ? 'Send reply' : burst ? 'Send burst' : 'Send'}</button>
        <span role="status" class="progress">
          {progress}
        </span>
      </div>
    </form>
  );
}
