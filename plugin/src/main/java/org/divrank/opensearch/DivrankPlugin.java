package org.divrank.opensearch;

import org.opensearch.cluster.metadata.IndexNameExpressionResolver;
import org.opensearch.cluster.node.DiscoveryNodes;
import org.opensearch.common.settings.ClusterSettings;
import org.opensearch.common.settings.IndexScopedSettings;
import org.opensearch.common.settings.SecureSetting;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.settings.SettingsFilter;
import org.opensearch.core.common.io.stream.NamedWriteableRegistry;
import org.opensearch.core.common.settings.SecureString;
import org.opensearch.plugins.ActionPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.ReloadablePlugin;
import org.opensearch.plugins.SearchPipelinePlugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.rest.RestController;
import org.opensearch.rest.RestHandler;
import org.opensearch.search.SearchExtBuilder;
import org.opensearch.search.fetch.FetchSubPhase;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchRequestProcessor;
import org.opensearch.search.pipeline.SearchResponseProcessor;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * divrank for OpenSearch: the {@code divrank_window} request processor, the {@code divrank}
 * response processor (re-ranking through the sidecar), the {@code ext.divrank} request block,
 * the window's binary vector fetch ({@link VectorFetchPhase}) and {@code GET _plugins/divrank/stats}.
 *
 * <p>The sidecar's bearer token is a secure setting ({@value #TOKEN_SETTING_NAME} in the
 * OpenSearch keystore), reloadable with {@code POST _nodes/reload_secure_settings}; it is never
 * part of a pipeline definition and never logged.
 */
public class DivrankPlugin extends Plugin implements SearchPipelinePlugin, SearchPlugin, ActionPlugin, ReloadablePlugin {

    /** Keystore key of the sidecar bearer token. */
    public static final String TOKEN_SETTING_NAME = "divrank.sidecar.token";
    static final Setting<SecureString> TOKEN_SETTING = SecureSetting.secureString(TOKEN_SETTING_NAME, null);

    private final DivrankStats stats = new DivrankStats();
    private final SidecarConnections connections = new SidecarConnections();
    private volatile String token;
    private final SidecarPolicy policy;

    public DivrankPlugin(Settings settings) {
        this.token = readToken(settings);
        this.policy = SidecarPolicy.of(settings);
    }

    private static String readToken(Settings settings) {
        if (!TOKEN_SETTING.exists(settings)) {
            return null;
        }
        try (SecureString secure = TOKEN_SETTING.get(settings)) {
            String value = secure.toString();
            return value.isBlank() ? null : value;
        }
    }

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(TOKEN_SETTING, SidecarPolicy.ALLOWED_HOSTS, SidecarPolicy.MAX_REPLY_BYTES);
    }

    @Override
    public void reload(Settings settings) {
        this.token = readToken(settings);
    }

    @Override
    public Map<String, Processor.Factory<SearchRequestProcessor>> getRequestProcessors(Parameters parameters) {
        return Map.of(WindowRequestProcessor.TYPE, new WindowRequestProcessor.Factory(parameters.namedXContentRegistry));
    }

    @Override
    public Map<String, Processor.Factory<SearchResponseProcessor>> getResponseProcessors(Parameters parameters) {
        Supplier<String> tokenSupplier = () -> token;
        // The node's GENERIC pool (ThreadPool#generic): the sidecar call blocks there, and the
        // reply is parsed and the page cut in the same task, never on a search or network thread.
        Executor generic = parameters.genericExecutor::accept;
        DeadlineTimer timer = (delayMs, abort) -> parameters.scheduler.apply(delayMs, abort)::cancel;
        return Map.of(
            DivrankResponseProcessor.TYPE,
            new DivrankResponseProcessor.Factory(
                connections::forConnectTimeout,
                tokenSupplier,
                stats,
                parameters.threadContext,
                policy,
                generic,
                timer,
                PageSources.of(parameters.client)
            )
        );
    }

    @Override
    public List<SearchExtSpec<?>> getSearchExts() {
        return List.of(
            new SearchExtSpec<>(DivrankSearchExt.NAME, DivrankSearchExt::new, DivrankSearchExt::parse),
            new SearchExtSpec<>(VectorFetchExt.NAME, VectorFetchExt::new, VectorFetchExt::parse)
        );
    }

    @Override
    public List<FetchSubPhase> getFetchSubPhases(FetchPhaseConstructionContext context) {
        return List.of(new VectorFetchPhase());
    }

    @Override
    public List<NamedWriteableRegistry.Entry> getNamedWriteables() {
        return List.of(new NamedWriteableRegistry.Entry(SearchExtBuilder.class, DivrankResponseExt.WRITEABLE_NAME, DivrankResponseExt::new));
    }

    @Override
    public List<RestHandler> getRestHandlers(
        Settings settings,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster
    ) {
        return List.of(new RestDivrankStatsAction(stats));
    }

    @Override
    public void close() {
        connections.close();
    }
}
