package org.divrank.opensearch;

/**
 * Schedules the abort of a sidecar call at its hard deadline: the node's scheduler in
 * production, so a sidecar that accepts and then trickles bytes cannot hold a search thread.
 */
@FunctionalInterface
public interface DeadlineTimer {

    /**
     * Runs {@code abort} after {@code delayMs}, unless the returned handle is run first.
     *
     * @return cancels the abort; called when the call ends in time
     */
    Runnable schedule(long delayMs, Runnable abort);
}
