// distill: knowledge distillation from a frozen teacher into a student on chat data
// (MiniMind-3's train_distillation.py).
import type { Argv } from 'yargs';
import { loadModelDir } from '../io/model-dir.js';
import { configFrom } from '../model/config.js';
import { DistillTrainee } from '../train/distill-trainee.js';
import { runLMStage } from '../train/lm-stage.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, handler, modelConfig, modelOptions, positive, resolveWeight, runtimeOptions, trainOptions } from './common.js';
import { chatDataOptions, chatStage } from './sft.js';
import { resolveFromWeight, shares } from './stage-args.js';
import { commandInfo } from './command-info.js';

export const distillCommand = {
  ...commandInfo('distill'),
  builder: (y: Argv) => runtimeOptions(modelOptions(chatDataOptions(trainOptions(y, {
    // MiniMind-3 train_distillation.py: --epochs 6 --batch_size 32 --learning_rate 5e-6 --accumulation_steps 1 --max_seq_len 340
    // --log_interval 100 --save_interval 100 --save_weight full_dist --from_student_weight full_sft --data_path ../dataset/sft_t2t_mini.jsonl
    epochs: 6, batch_size: 32, learning_rate: 5e-6, accumulation_steps: 1, max_seq_len: 340, log_interval: 100, save_interval: 100,
    save_weight: 'full_dist', from_weight: 'full_sft', data_path: 'dataset/sft_t2t_mini.jsonl',
  }))))
    .alias('from_weight', 'from_student_weight').alias('hidden_size', 'student_hidden_size').alias('num_hidden_layers', 'student_num_layers').alias('use_moe', 'student_use_moe')
    .option('from_teacher_weight', { type: 'string', default: 'full_sft', describe: 'the teacher: a model directory, or a MiniMind weight name resolved in <out_dir> (with the --teacher_* shape)', group: 'Distillation:' })
    .option('teacher_hidden_size', { type: 'number', describe: "the teacher's hidden size, for a weights file without config.json (default: the student's)", group: 'Distillation:' })
    .option('teacher_num_layers', { type: 'number', describe: "the teacher's decoder layers, for a weights file without config.json (default: the student's)", group: 'Distillation:' })
    .option(...bool01('teacher_use_moe', "the teacher is a mixture of experts, for a weights file without config.json (default: as the student)", undefined, 'Distillation:'))
    .option('alpha', { type: 'number', default: 0.5, describe: 'weight of the cross-entropy: loss = alpha * CE + (1 - alpha) * KL (MiniMind: 0.5)', group: 'Distillation:' })
    .option('temperature', { type: 'number', default: 1.5, describe: 'softening temperature of teacher and student (MiniMind: 1.5; 1.0-2.0 recommended)', group: 'Distillation:' })
    .example('$0 distill --from_student_weight out/full_sft_small --from_teacher_weight out/full_sft --data_path dataset/sft_t2t_mini.jsonl',
      "MiniMind's train_distillation.py"),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'log_interval', 'temperature');
    shares(a, 'alpha');
    // the teacher's shape for a bare weights file: the student's flags with the teacher's own on top
    const teacherShape = () => configFrom(modelConfig(a), {
      hidden_size: a.teacher_hidden_size as number | undefined, num_hidden_layers: a.teacher_num_layers as number | undefined, use_moe: a.teacher_use_moe as boolean | undefined,
    });
    const teacherPath = resolveWeight(a, '--from_teacher_weight', a.from_teacher_weight as string, a.out_dir as string, teacherShape());
    const fromWeight = resolveFromWeight(a);
    return (await runLMStage({
      stage: 'distill', ...chatStage(a), fromWeight, model: (vocab) => modelConfig(a, vocab),
      trainee: (c, params, build, so) => {
        const teacher = loadModelDir(teacherPath, configFrom(teacherShape(), { vocab_size: c.vocab_size }));
        if (teacher.config.max_position_embeddings < (build.seqLen ?? 0)) throw new UserError(`--max_seq_len ${build.seqLen} exceeds the teacher's max_position_embeddings ${teacher.config.max_position_embeddings}`);
        return DistillTrainee.create(c, params, teacher, { alpha: a.alpha as number, temperature: a.temperature as number }, build, so);
      },
    })).code;
  }),
};
