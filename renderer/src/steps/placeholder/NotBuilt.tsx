import type { StepDef } from '../registry';

/** Plainly says that a step is not built yet: no fake content. */
export function NotBuilt({ step }: { step: StepDef }) {
  return (
    <section className="not-built" data-testid={`not-built-${step.id}`}>
      <h2>{step.title}</h2>
      <p>{step.summary}.</p>
      <p className="notice">{step.notBuilt} This step does nothing yet.</p>
    </section>
  );
}
