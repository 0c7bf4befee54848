import { sortByScore, topK } from '../math';
import type { BatchStrategy } from '../types';
import { averageLinkage } from './clustering';
import { batchCount, embeddingsOf, probabilitiesOf, roundRobin } from './shared';
import { uncertaintyScores } from './uncertainty';

/** Parameters of {@link clusterMargin}. */
export interface ClusterMarginParams {
  /**
   * How many rows with the smallest margins are clustered (the paper's k_m x k), at least
   * `size`. Default 2000. Clustering costs O(candidates²) time and 4 x candidates² bytes.
   */
  candidatePool: number;
  /** How many clusters the candidates are cut into; 0 (default): as many as `size`. */
  clusterCount: number;
}

/**
 * Cluster-Margin. The candidates (the rows with the smallest margins) are clustered by
 * average-linkage agglomerative clustering of their embeddings, cut into `clusterCount`
 * clusters; then round-robin over the clusters from the smallest to the largest (ties: the
 * cluster whose first row is lower), each giving its lowest-margin remaining row (ties: lower
 * index), until `size` rows are picked. Score = -margin, as for `margin`.
 *
 * Deviations from the paper, for determinism and because the server hands over only the
 * candidates: the clustering runs on the candidates at every selection, not once on the whole
 * pool; it is cut into a number of clusters instead of at a distance threshold ε (which would
 * depend on the embedding's scale); and each cluster gives its lowest-margin row, not a random
 * one.
 */
export const clusterMargin: BatchStrategy<ClusterMarginParams> = {
  code: 'cluster-margin',
  kind: 'batch',
  description:
    'Cluster-Margin: clusters the lowest-margin items by their embeddings (average-linkage agglomerative clustering) and takes the lowest-margin item of each cluster in turn, smallest clusters first. After Citovsky et al., "Batch Active Learning at Scale", NeurIPS 2021 (here: clustered per selection, cut into a number of clusters, lowest margin instead of random within a cluster).',
  needs: ['PROBABILITIES', 'EMBEDDINGS'],
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      candidatePool: {
        type: 'integer',
        minimum: 1,
        maximum: 5000,
        default: 2000,
        description:
          'How many items with the smallest margins are clustered (at least size). Time and memory grow with its square.',
      },
      clusterCount: {
        type: 'integer',
        minimum: 0,
        maximum: 5000,
        default: 0,
        description: 'How many clusters the candidates are cut into; 0: as many as the batch size.',
      },
    },
  },
  candidatePool: (params) => ({ strategy: 'margin', size: params.candidatePool }),
  usesTeam: true,
  select({ size, pool, params, team }) {
    const rows = pool.rows;
    const count = batchCount(size, pool);
    if (count === 0) return [];
    probabilitiesOf(pool, 'cluster-margin');
    const { embeddings, dim } = embeddingsOf(pool, 'cluster-margin');
    const scores = uncertaintyScores('margin', pool);

    // The server normally hands over exactly the candidates; this also bounds the work when it
    // hands over the whole pool.
    const m = Math.min(rows, Math.max(params.candidatePool, count));
    const candidates =
      m < rows ? topK(scores, m).sort((x, y) => x - y) : Array.from({ length: rows }, (_, r) => r);
    const labels = averageLinkage(
      embeddings,
      dim,
      candidates,
      params.clusterCount > 0 ? params.clusterCount : count,
      team,
    );

    const clusters: number[][] = [];
    candidates.forEach((row, i) => (clusters[labels[i]] ??= []).push(row));
    for (const members of clusters) sortByScore(scores, members);
    const order = clusters
      .map((_, c) => c)
      .sort((x, y) => clusters[x].length - clusters[y].length || x - y);

    return roundRobin(clusters, order, count, (index, c) => ({
      index,
      score: scores[index],
      reason: { margin: 0 - scores[index], cluster: c },
    }));
  },
};
