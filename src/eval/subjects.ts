// Subjects and report categories of the two Chinese multiple-choice benchmarks: C-Eval's
// official subject mapping (52 subjects, four categories) and CMMLU's (67 subjects, each in a
// subcategory; "china specific" ones also count in China specific).
export type Benchmark = 'ceval' | 'cmmlu';

const S = 'STEM', SS = 'Social Science', H = 'Humanities', O = 'Other';

/** C-Eval: subject -> [Chinese name, category] */
export const CEVAL_SUBJECTS: Record<string, [string, string]> = {
  computer_network: ['计算机网络', S], operating_system: ['操作系统', S], computer_architecture: ['计算机组成', S],
  college_programming: ['大学编程', S], college_physics: ['大学物理', S], college_chemistry: ['大学化学', S],
  advanced_mathematics: ['高等数学', S], probability_and_statistics: ['概率统计', S], discrete_mathematics: ['离散数学', S],
  electrical_engineer: ['注册电气工程师', S], metrology_engineer: ['注册计量师', S], high_school_mathematics: ['高中数学', S],
  high_school_physics: ['高中物理', S], high_school_chemistry: ['高中化学', S], high_school_biology: ['高中生物', S],
  middle_school_mathematics: ['初中数学', S], middle_school_biology: ['初中生物', S], middle_school_physics: ['初中物理', S],
  middle_school_chemistry: ['初中化学', S], veterinary_medicine: ['兽医学', S],
  college_economics: ['大学经济学', SS], business_administration: ['工商管理', SS], marxism: ['马克思主义基本原理', SS],
  mao_zedong_thought: ['毛泽东思想和中国特色社会主义理论体系概论', SS], education_science: ['教育学', SS],
  teacher_qualification: ['教师资格', SS], high_school_politics: ['高中政治', SS], high_school_geography: ['高中地理', SS],
  middle_school_politics: ['初中政治', SS], middle_school_geography: ['初中地理', SS],
  modern_chinese_history: ['近代史纲要', H], ideological_and_moral_cultivation: ['思想道德修养与法律基础', H], logic: ['逻辑学', H],
  law: ['法学', H], chinese_language_and_literature: ['中国语言文学', H], art_studies: ['艺术学', H],
  professional_tour_guide: ['导游资格', H], legal_professional: ['法律职业资格', H], high_school_chinese: ['高中语文', H],
  high_school_history: ['高中历史', H], middle_school_history: ['初中历史', H],
  civil_servant: ['公务员', O], sports_science: ['体育学', O], plant_protection: ['植物保护', O], basic_medicine: ['基础医学', O],
  clinical_medicine: ['临床医学', O], urban_and_rural_planner: ['注册城乡规划师', O], accountant: ['注册会计师', O],
  fire_engineer: ['注册消防工程师', O], environmental_impact_assessment_engineer: ['环境影响评价工程师', O],
  tax_accountant: ['税务师', O], physician: ['医师资格', O],
};

// CMMLU: subcategory -> category, then subject -> subcategories
const CMMLU_CATEGORY: Record<string, string> = {
  physics: S, chemistry: S, biology: S, 'computer science': S, math: S, engineering: S, statistics: S,
  history: H, philosophy: H, law: H, arts: H, literature: H, global: H,
  linguistics: SS, business: SS, politics: SS, culture: SS, economics: SS, geography: SS, psychology: SS, education: SS, sociology: SS,
  other: O, 'china specific': 'China specific',
};
const CN = 'china specific';
export const CMMLU_SUBJECTS: Record<string, string[]> = {
  agronomy: ['other'], anatomy: ['biology'], ancient_chinese: ['linguistics', CN], arts: ['arts'], astronomy: ['physics'],
  business_ethics: ['business'], chinese_civil_service_exam: ['politics', CN], chinese_driving_rule: ['other', CN],
  chinese_food_culture: ['culture', CN], chinese_foreign_policy: ['politics', CN], chinese_history: ['history', CN],
  chinese_literature: ['literature', CN], chinese_teacher_qualification: ['education', CN], college_actuarial_science: ['math'],
  college_education: ['education'], college_engineering_hydrology: ['engineering'], college_law: ['law'],
  college_mathematics: ['math'], college_medical_statistics: ['statistics'], clinical_knowledge: ['other'],
  college_medicine: ['other'], computer_science: ['computer science'], computer_security: ['other'],
  conceptual_physics: ['physics'], construction_project_management: ['other', CN], economics: ['economics'],
  education: ['education'], elementary_chinese: ['linguistics', CN], elementary_commonsense: ['other', CN],
  elementary_information_and_technology: ['other'], electrical_engineering: ['engineering'], elementary_mathematics: ['math'],
  ethnology: ['culture', CN], food_science: ['other'], genetics: ['biology'], global_facts: ['global'],
  high_school_biology: ['biology'], high_school_chemistry: ['chemistry'], high_school_geography: ['geography'],
  high_school_mathematics: ['math'], high_school_physics: ['physics'], high_school_politics: ['politics', CN],
  human_sexuality: ['other'], international_law: ['law'], journalism: ['sociology'], jurisprudence: ['law'],
  legal_and_moral_basis: ['other'], logical: ['philosophy'], machine_learning: ['computer science'], management: ['business'],
  marketing: ['business'], marxist_theory: ['philosophy'], modern_chinese: ['linguistics', CN], nutrition: ['other'],
  philosophy: ['philosophy'], professional_accounting: ['business'], professional_law: ['law'], professional_medicine: ['other'],
  professional_psychology: ['psychology'], public_relations: ['politics'], security_study: ['politics'], sociology: ['culture'],
  sports_science: ['other'], traditional_chinese_medicine: ['other', CN], virology: ['biology'], world_history: ['history'],
  world_religions: ['global'],
};

export const CATEGORIES: Record<Benchmark, string[]> = {
  ceval: [S, SS, H, O],
  cmmlu: [S, H, SS, O, 'China specific'],
};

/** The report categories a subject counts in (none for a subject the mapping does not know). */
export function categoriesOf(b: Benchmark, subject: string): string[] {
  if (b === 'ceval') { const e = CEVAL_SUBJECTS[subject]; return e ? [e[1]] : []; }
  return [...new Set((CMMLU_SUBJECTS[subject] ?? []).map((s) => CMMLU_CATEGORY[s]))];
}

/** The subject's name in the benchmark's language (C-Eval's few-shot header uses it). */
export function subjectName(b: Benchmark, subject: string): string {
  return b === 'ceval' ? CEVAL_SUBJECTS[subject]?.[0] ?? subject : subject;
}
