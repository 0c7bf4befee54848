/**
 * Why onnxruntime-node used to leave an empty `mat-debug-<pid>.log` in the temp folder of every
 * process that loaded a model: its Linux build (1.30) starts Microsoft's 1DS telemetry client
 * (`PosixTelemetry`, the "MATSDK") when the first session creates the runtime's environment, and
 * that client's platform layer opens a trace file `<tmpdir>/mat-debug-<pid>.log` with tracing on
 * but nothing at a level worth writing: one empty file per process, never removed. The library
 * reads `ORT_DISABLE_TELEMETRY` when it creates its environment; set, the client never starts,
 * so there is no file (and no telemetry upload attempt).
 *
 * The native library reads the process's real environment, which a worker thread's
 * `process.env` (a copy) cannot change: this runs in the main thread before any worker thread or
 * child process that may load onnxruntime starts. A value the operator set is kept.
 */
export function disableOnnxTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  if (env.ORT_DISABLE_TELEMETRY === undefined) env.ORT_DISABLE_TELEMETRY = '1';
}
