import {
  Arg,
  Args,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { PageArgs, toConnection } from '../schema/connection';
import type { Page } from '../services/pagination';
import { GraphQLUpload, type FileUpload } from 'graphql-upload-minimal';
import {
  ModelConnection,
  ModelMetricsNode,
  ModelNode,
  PredictionNode,
} from '../schema/model.types';
import { datasetClasses, toMetricsNode } from './shapes';
import type { ModelInfo } from '../services/model.service';
import { ModelOutputKind } from '../schema/enums';

import { BadUserInputError, PayloadTooLargeError } from '../errors';
import { authorize, Permission } from '../services/permissions';
import type { GraphQLContext } from './context';

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

async function readUpload(upload: Promise<FileUpload>, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new PayloadTooLargeError(
      `The model file is over the limit of ${maxBytes} bytes (QUARRY_MAX_MODEL_BYTES).`,
    );
  const file = await upload;
  const chunks: Buffer[] = [];
  let size = 0;
  let stream: ReturnType<FileUpload['createReadStream']> | undefined;
  try {
    // The upload middleware cuts a file at the size limit: createReadStream (or the stream
    // itself) then throws its own HTTP 413 error, which is not a QuarryError.
    stream = file.createReadStream();
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    const status = (e as { status?: unknown }).status;
    if (status === 413) throw tooLarge();
    if (typeof status === 'number' && status >= 400 && status < 500) {
      throw new BadUserInputError(`The file upload failed: ${(e as Error).message}`);
    }
    throw e;
  }
  // When the limit is reached after reading began, busboy ends the stream normally, marked.
  if ((stream as { truncated?: boolean }).truncated) throw tooLarge();
  return Buffer.concat(chunks);
}

@Resolver(() => ModelNode)
export class ModelResolver {
  @Query(() => ModelConnection, {
    description: "A dataset's model versions, oldest first (`first`: 0 to 1000, default 50).",
  })
  async models(
    @Arg('datasetId', () => ID) datasetId: string,
    @Args() { first, after }: PageArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelConnection> {
    const page = await ctx.services.models.list(ctx.key, datasetId, first, after);
    return toConnection(ModelConnection, page as Page<ModelNode>);
  }

  @Query(() => ModelNode)
  model(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<ModelNode> {
    return ctx.services.models.get(ctx.key, id);
  }

  @Mutation(() => ModelNode, {
    description:
      "Registers an ONNX model as the dataset's next version. Send the file as base64 (onnxBase64) or as a GraphQL multipart upload (file). It must take [N, featureDim] float32 and give [N, classes] probabilities or logits; it is validated in a separate process before it is stored, and refused with BAD_USER_INPUT and the reason otherwise.",
  })
  async registerModel(
    @Arg('datasetId', () => ID) datasetId: string,
    @Arg('name') name: string,
    @Arg('onnxBase64', () => String, { nullable: true }) onnxBase64: string | null,
    @Arg('file', () => GraphQLUpload, { nullable: true }) file: Promise<FileUpload> | null,
    @Arg('inputName', () => String, {
      nullable: true,
      description: "Default: the model's only input.",
    })
    inputName: string | null,
    @Arg('outputName', () => String, {
      nullable: true,
      description:
        'The output giving class scores. Default: the output named like "prob" or "logit", or the only output.',
    })
    outputName: string | null,
    @Arg('outputKind', () => ModelOutputKind, {
      nullable: true,
      description:
        'Default: found from the output\'s name ("prob" -> PROBABILITIES, "logit" -> LOGITS).',
    })
    outputKind: ModelOutputKind | null,
    @Arg('embeddingOutput', () => String, {
      nullable: true,
      description:
        'An output giving an embedding per row. Default: an output named like "embed", if any.',
    })
    embeddingOutput: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelNode> {
    // Authorise before reading anything the caller sent (an upload may be large).
    authorize(ctx.key, Permission.MANAGE_MODELS, datasetId);
    if ((onnxBase64 == null) === (file == null)) {
      throw new BadUserInputError('Give the model as exactly one of onnxBase64 and file.');
    }
    const maxBytes = ctx.services.models.maxBytes;
    let onnx: Buffer;
    if (onnxBase64 != null) {
      // Line-wrapped base64 (as the `base64` command writes it) is fine.
      const compact = onnxBase64.replace(/\s+/g, '');
      if (compact.length % 4 !== 0 || !BASE64_RE.test(compact)) {
        throw new BadUserInputError(
          'onnxBase64 is not valid base64 (standard alphabet, padded with =).',
        );
      }
      onnx = Buffer.from(compact, 'base64');
    } else {
      onnx = await readUpload(file!, maxBytes);
    }
    return ctx.services.models.register(ctx.key, datasetId, {
      name,
      onnx,
      inputName,
      outputName,
      outputKind,
      embeddingOutput,
    });
  }

  @FieldResolver(() => ModelMetricsNode, {
    nullable: true,
    description:
      "Quality on the dataset's labelled VALIDATION items when the model was registered; null when it had none.",
  })
  async metrics(
    @Root() model: ModelInfo,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ModelMetricsNode | null> {
    return toMetricsNode(model.metrics, (await datasetClasses(ctx, model.datasetId)) ?? []);
  }
}

@Resolver(() => PredictionNode)
export class PredictionResolver {
  @FieldResolver(() => Int, {
    nullable: true,
    description:
      "The model's version number, to show beside a pre-label (null if the model is gone).",
  })
  modelVersion(@Root() p: PredictionNode, @Ctx() ctx: GraphQLContext): Promise<number | null> {
    return ctx.loaders.modelVersion.load(p.modelId);
  }
}
