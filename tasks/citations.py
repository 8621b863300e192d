"""What to cite for each MMEB-V2 task: the benchmark paper, then the paper of the data it draws on.

Read by the task specs (``TaskSpec.citation``) and shown by ``umeval list tasks``.  The image tasks are MMEB
(V1) tasks, so they cite VLM2Vec too; a visual-document task built on an earlier collection (ViDoRe, VisRAG)
cites that collection and the dataset its pages and questions come from.
"""

MMEB_V2 = ("Meng et al., VLM2Vec-V2: Advancing Multimodal Embedding for Videos, Images, and Visual Documents, "
           "arXiv:2507.04590, 2025")
MMEB_V1 = ("Jiang et al., VLM2Vec: Training Vision-Language Models for Massive Multimodal Embedding Tasks, "
           "ICLR 2025")

_COCO = "Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014"
_VISUAL7W = "Zhu et al., Visual7W: Grounded Question Answering in Images, CVPR 2016"
_REFCOCO = ("Kazemzadeh et al., ReferItGame: Referring to Objects in Photographs of Natural Scenes, EMNLP 2014; "
            "Yu et al., Modeling Context in Referring Expressions, ECCV 2016")
_VISUALNEWS = "Liu et al., Visual News: Benchmark and Challenges in News Image Captioning, EMNLP 2021"
_DOCVQA = "Mathew et al., DocVQA: A Dataset for VQA on Document Images, WACV 2021"
_INFOVQA = "Mathew et al., InfographicVQA, WACV 2022"
_CHARTQA = ("Masry et al., ChartQA: A Benchmark for Question Answering about Charts with Visual and Logical "
            "Reasoning, Findings of ACL 2022")
_ARXIVQA = ("Li et al., Multimodal ArXiv: A Dataset for Improving Scientific Comprehension of Large "
            "Vision-Language Models, ACL 2024")
_COLPALI = "Faysse et al., ColPali: Efficient Document Retrieval with Vision Language Models, ICLR 2025"
_VIDORE2 = "Macé et al., ViDoRe Benchmark V2: Raising the Bar for Visual Retrieval, arXiv:2505.17166, 2025"
_VISRAG = ("Yu et al., VisRAG: Vision-based Retrieval-augmented Generation on Multi-modality Documents, "
           "ICLR 2025")
_VIDOSEEK = ("Wang et al., ViDoRAG: Visual Document Retrieval-Augmented Generation via Dynamic Iterative "
             "Reasoning Agents, arXiv:2502.18017, 2025")
_MMLONG = ("Ma et al., MMLongBench-Doc: Benchmarking Long-context Document Understanding with Visualizations, "
           "NeurIPS 2024 Datasets and Benchmarks")
_IMAGENET = "Deng et al., ImageNet: A Large-Scale Hierarchical Image Database, CVPR 2009"

#: task -> the source dataset's paper(s).
SOURCES: dict[str, str] = {
    # image: classification
    "ImageNet-1K": _IMAGENET,
    "N24News": "Wang et al., N24News: A New Dataset for Multimodal News Classification, LREC 2022",
    "HatefulMemes": "Kiela et al., The Hateful Memes Challenge: Detecting Hate Speech in Multimodal Memes, NeurIPS 2020",
    "VOC2007": "Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 2010",
    "SUN397": "Xiao et al., SUN Database: Large-scale Scene Recognition from Abbey to Zoo, CVPR 2010",
    "Place365": "Zhou et al., Places: A 10 Million Image Database for Scene Recognition, TPAMI 2018",
    "ImageNet-A": "Hendrycks et al., Natural Adversarial Examples, CVPR 2021",
    "ImageNet-R": "Hendrycks et al., The Many Faces of Robustness, ICCV 2021",
    "ObjectNet": "Barbu et al., ObjectNet: A Large-Scale Bias-Controlled Dataset for Pushing the Limits of Object "
                 "Recognition Models, NeurIPS 2019",
    "Country211": "Radford et al., Learning Transferable Visual Models From Natural Language Supervision, ICML 2021",
    # image: question answering
    "OK-VQA": "Marino et al., OK-VQA: A Visual Question Answering Benchmark Requiring External Knowledge, CVPR 2019",
    "A-OKVQA": "Schwenk et al., A-OKVQA: A Benchmark for Visual Question Answering using World Knowledge, ECCV 2022",
    "DocVQA": _DOCVQA,
    "InfographicsVQA": _INFOVQA,
    "ChartQA": _CHARTQA,
    "Visual7W": _VISUAL7W,
    "ScienceQA": "Lu et al., Learn to Explain: Multimodal Reasoning via Thought Chains for Science Question "
                 "Answering, NeurIPS 2022",
    "VizWiz": "Gurari et al., VizWiz Grand Challenge: Answering Visual Questions from Blind People, CVPR 2018",
    "GQA": "Hudson and Manning, GQA: A New Dataset for Real-World Visual Reasoning and Compositional Question "
           "Answering, CVPR 2019",
    "TextVQA": "Singh et al., Towards VQA Models That Can Read, CVPR 2019",
    # image: retrieval
    "VisDial": "Das et al., Visual Dialog, CVPR 2017",
    "CIRR": "Liu et al., Image Retrieval on Real-life Images with Pre-trained Vision-and-Language Models, ICCV 2021",
    "VisualNews_t2i": _VISUALNEWS,
    "VisualNews_i2t": _VISUALNEWS,
    "MSCOCO_t2i": _COCO,
    "MSCOCO_i2t": _COCO,
    "NIGHTS": "Fu et al., DreamSim: Learning New Dimensions of Human Visual Similarity using Synthetic Data, "
              "NeurIPS 2023",
    "WebQA": "Chang et al., WebQA: Multihop and Multimodal QA, CVPR 2022",
    "FashionIQ": "Wu et al., Fashion IQ: A New Dataset Towards Retrieving Images by Natural Language Feedback, "
                 "CVPR 2021",
    "Wiki-SS-NQ": "Ma et al., Unifying Multimodal Retrieval via Document Screenshot Embedding, EMNLP 2024",
    "OVEN": "Hu et al., Open-domain Visual Entity Recognition: Towards Recognizing Millions of Wikipedia Entities, "
            "ICCV 2023",
    "EDIS": "Liu et al., EDIS: Entity-Driven Image Search over Multimodal Web Content, EMNLP 2023",
    # image: visual grounding
    "MSCOCO": _COCO,
    "RefCOCO": _REFCOCO,
    "RefCOCO-Matching": _REFCOCO,
    "Visual7W-Pointing": _VISUAL7W,
    # video
    "K700": "Carreira et al., A Short Note on the Kinetics-700 Human Action Dataset, arXiv:1907.06987, 2019",
    "SmthSmthV2": "Goyal et al., The \"something something\" Video Database for Learning and Evaluating Visual "
                  "Common Sense, ICCV 2017",
    "HMDB51": "Kuehne et al., HMDB: A Large Video Database for Human Motion Recognition, ICCV 2011",
    "UCF101": "Soomro et al., UCF101: A Dataset of 101 Human Actions Classes From Videos in The Wild, "
              "arXiv:1212.0402, 2012",
    "Breakfast": "Kuehne et al., The Language of Actions: Recovering the Syntax and Semantics of Goal-Directed "
                 "Human Activities, CVPR 2014",
    "MVBench": "Li et al., MVBench: A Comprehensive Multi-modal Video Understanding Benchmark, CVPR 2024",
    "Video-MME": "Fu et al., Video-MME: The First-Ever Comprehensive Evaluation Benchmark of Multi-modal LLMs in "
                 "Video Analysis, CVPR 2025",
    "NExTQA": "Xiao et al., NExT-QA: Next Phase of Question-Answering to Explaining Temporal Actions, CVPR 2021",
    "EgoSchema": "Mangalam et al., EgoSchema: A Diagnostic Benchmark for Very Long-form Video Language "
                 "Understanding, NeurIPS 2023",
    "ActivityNetQA": "Yu et al., ActivityNet-QA: A Dataset for Understanding Complex Web Videos via Question "
                     "Answering, AAAI 2019",
    "DiDeMo": "Hendricks et al., Localizing Moments in Video with Natural Language, ICCV 2017",
    "MSR-VTT": "Xu et al., MSR-VTT: A Large Video Description Dataset for Bridging Video and Language, CVPR 2016",
    "MSVD": "Chen and Dolan, Collecting Highly Parallel Data for Paraphrase Evaluation, ACL 2011",
    "VATEX": "Wang et al., VaTeX: A Large-Scale, High-Quality Multilingual Dataset for Video-and-Language "
             "Research, ICCV 2019",
    "YouCook2": "Zhou et al., Towards Automatic Learning of Procedures from Web Instructional Videos, AAAI 2018",
    "QVHighlight": "Lei et al., QVHighlights: Detecting Moments and Highlights in Videos via Natural Language "
                   "Queries, NeurIPS 2021",
    "Charades-STA": "Gao et al., TALL: Temporal Activity Localization via Language Query, ICCV 2017",
    "MomentSeeker": "Yuan et al., MomentSeeker: A Comprehensive Benchmark and a Strong Baseline for Moment "
                    "Retrieval within Long Videos, arXiv:2502.12558, 2025",
    # visual documents
    "ViDoRe_arxivqa": f"{_COLPALI}; {_ARXIVQA}",
    "ViDoRe_docvqa": f"{_COLPALI}; {_DOCVQA}",
    "ViDoRe_infovqa": f"{_COLPALI}; {_INFOVQA}",
    "ViDoRe_tabfquad": _COLPALI,
    "ViDoRe_tatdqa": f"{_COLPALI}; Zhu et al., Towards Complex Document Understanding by Discrete Reasoning, "
                     "ACM MM 2022",
    "ViDoRe_shiftproject": _COLPALI,
    "ViDoRe_syntheticDocQA_artificial_intelligence": _COLPALI,
    "ViDoRe_syntheticDocQA_energy": _COLPALI,
    "ViDoRe_syntheticDocQA_government_reports": _COLPALI,
    "ViDoRe_syntheticDocQA_healthcare_industry": _COLPALI,
    "ViDoRe_esg_reports_human_labeled_v2": _VIDORE2,
    "ViDoRe_biomedical_lectures_v2_multilingual": _VIDORE2,
    "ViDoRe_economics_reports_v2_multilingual": _VIDORE2,
    "ViDoRe_esg_reports_v2_multilingual": _VIDORE2,
    "VisRAG_ArxivQA": f"{_VISRAG}; {_ARXIVQA}",
    "VisRAG_ChartQA": f"{_VISRAG}; {_CHARTQA}",
    "VisRAG_MP-DocVQA": f"{_VISRAG}; Tito et al., Hierarchical Multimodal Transformers for Multi-Page DocVQA, "
                        "Pattern Recognition 2023",
    "VisRAG_SlideVQA": f"{_VISRAG}; Tanaka et al., SlideVQA: A Dataset for Document Visual Question Answering on "
                       "Multiple Images, AAAI 2023",
    "VisRAG_InfoVQA": f"{_VISRAG}; {_INFOVQA}",
    "VisRAG_PlotQA": f"{_VISRAG}; Methani et al., PlotQA: Reasoning over Scientific Plots, WACV 2020",
    "ViDoSeek-page": _VIDOSEEK,
    "ViDoSeek-doc": _VIDOSEEK,
    "MMLongBench-page": _MMLONG,
    "MMLongBench-doc": _MMLONG,
}


def cite(task: str, image: bool = False) -> tuple[str, ...]:
    """The citations of MMEB-V2 task ``task``: the benchmark (and MMEB V1 for an image task), then its source.

    A task missing here is a KeyError at registration, so a new task cannot ship without its citation.
    """
    return (MMEB_V2, *((MMEB_V1,) if image else ()), SOURCES[task])
