import { useEffect, useState } from 'react';
import type { AppInfo } from '../../../shared/contract';
import { api } from '../api/client';
import { STEPS, type StepDef, type StepId } from '../steps/registry';
import { BuildStep } from '../steps/build/BuildStep';
import { UploadStep } from '../steps/upload/UploadStep';
import { DiagnosticsView, VerifyStep } from '../steps/verify/VerifyStep';
import { IdentityStep } from '../steps/identity/IdentityStep';
import { ScanStep } from '../steps/scan/ScanStep';
import { TargetStep } from '../steps/target/TargetStep';
import { StartStep } from '../steps/start/StartStep';
import { RouterStep } from '../steps/router/RouterStep';
import { DoneStep } from '../steps/done/DoneStep';
import { InstallStep } from '../steps/install/InstallStep';
import { useApp } from '../store/index';
import { isReachable, nextStepAfter } from '../store/wizard-slice';

/** The view of each step. */
const VIEWS: Record<StepId, () => React.JSX.Element> = { start: StartStep, scan: ScanStep, target: TargetStep, identity: IdentityStep, router: RouterStep, build: BuildStep, upload: UploadStep, verify: VerifyStep, install: InstallStep, done: DoneStep, diagnostics: DiagnosticsView };

function StepView({ step }: { step: StepDef }) {
  const View = VIEWS[step.id];
  return <View />;
}

/** The wizard shell: step list on the left, current step on the right, Next at the bottom. */
export function App() {
  const state = useApp();
  const [info, setInfo] = useState<AppInfo>();
  useEffect(() => {
    void api()
      .invoke('app:info', {})
      .then((r) => {
        if (r.ok) setInfo(r.value);
      });
  }, []);
  const current = STEPS.find((s) => s.id === state.wizard.current) ?? STEPS[0]!;
  const idx = STEPS.indexOf(current);
  const nextStep = nextStepAfter(state, idx);
  return (
    <div className="shell">
      <nav className="steps" aria-label="Steps">
        <h1>Bootchain</h1>
        <ol>
          {STEPS.map((s) => {
            const reachable = s.kind === 'view' || isReachable(state, s.id);
            return (
              <li key={s.id} className={s.kind === 'view' ? 'view-link' : undefined}>
                <button
                  type="button"
                  data-testid={`nav-${s.id}`}
                  disabled={!reachable}
                  aria-current={s.id === current.id ? 'step' : undefined}
                  onClick={() => state.goTo(s.id)}
                  title={reachable ? s.summary : 'Complete the earlier steps first'}
                >
                  <span className="title">{s.title}</span>
                  {s.isComplete(state) ? <span className="done">✓</span> : null}
                </button>
              </li>
            );
          })}
        </ol>
        <footer className="muted small" data-testid="app-info">
          {info ? `v${info.version} · ${info.transport}` : 'connecting…'}
        </footer>
      </nav>
      <main className="content">
        <StepView step={current} />
        {current.kind === 'wizard' && current.id !== 'start' && nextStep && nextStep.kind === 'wizard' ? (
          <div className="next">
            <button
              type="button"
              className="primary"
              data-testid="next"
              disabled={!current.isComplete(state)}
              onClick={() => state.next()}
            >
              Next: {nextStep.title}
            </button>
            {!current.isComplete(state) && current.blockedWhy ? (
              <span className="muted small" data-testid="next-why">
                {current.blockedWhy(state)}
              </span>
            ) : null}
          </div>
        ) : null}
      </main>
    </div>
  );
}
